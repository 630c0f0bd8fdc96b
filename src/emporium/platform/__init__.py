"""The kernel: infrastructure with no business words in it."""
