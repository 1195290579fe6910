"""The live graph: the same cycle assets on the BTCTurk venue, into the live book."""
