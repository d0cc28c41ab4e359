"""What the tests share (a module with a name of its own, so that any test can import it)."""

#: The token of the tests' toy cloud, given to the provider by reference (TOY_TOKEN).
TOKEN = "toy-token-not-for-real-use"
