"""Channel adapters: each turns the outside world's format into the core's InboundContact and sends replies."""
