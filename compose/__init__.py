"""pycompose client side: compose files in, Engine API calls out. Never touches the kernel."""
