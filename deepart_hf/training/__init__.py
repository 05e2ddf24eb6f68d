"""transforms -> model -> Trainer: the arguments, the papers' protocols, the Trainer and the run."""
