"""Orders: placing, paying, fulfilling, delivering, cancelling and refunding orders."""
