"""Channel adapters: each turns its channel's format into the core's InboundContact and sends replies."""
