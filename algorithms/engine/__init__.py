"""The LM engine: models with QLoRA, tokenised preference data, sequence log-probs, the cached
reference, and the pairwise family's training loop on accelerate."""
