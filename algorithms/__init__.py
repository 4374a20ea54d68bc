"""Built-in algorithms. Every module here (except ``base`` and ``config``) registers its classes
with :data:`prefzoo.registry.ALGORITHMS` when imported; the registry imports them all on first use."""
