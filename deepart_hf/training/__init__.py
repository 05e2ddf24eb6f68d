"""transforms -> model -> Trainer: the arguments, the seed papers' protocols, the Trainer and the run."""
