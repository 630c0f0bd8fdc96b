"""Database platform: the engine (`engine`), what services may use (`tx`), the
transaction opener that only workflows import (`transaction`), and the shared
MetaData conventions (`schema`)."""
