"""The LM engine: models with QLoRA, tokenised preference data, sequence log-probs, the cached
reference, and the pairwise family's training loop on accelerate."""

from prefzoo.algorithms.engine.bitsandbytes_import import import_bitsandbytes_offline

import_bitsandbytes_offline()  # before peft, transformers or trl import it (see the module)
