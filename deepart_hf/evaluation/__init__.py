"""model outputs -> metrics -> predictions, plots, report and model card."""
