"""raw source -> records -> typed DatasetDict -> Hub folder or repo, and back again for training."""
