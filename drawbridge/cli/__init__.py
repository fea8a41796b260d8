"""The `drawbridge` command: a thin shell over the library, one context, one error boundary."""
