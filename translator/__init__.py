"""Guest-block scanner, sensitive-instruction table, rewriter and checked assembler."""
