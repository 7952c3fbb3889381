"""One module per durable operation; ``DurableContext`` methods delegate here."""
