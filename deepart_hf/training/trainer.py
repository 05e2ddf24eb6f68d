"""The Trainer, with what image-forensics training needs and transformers' Trainer lacks: several crops averaged
per test image, and StepLR."""

from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import LambdaLR
from transformers import Trainer


class DetectorTrainer(Trainer):
    """Trainer + multi-crop evaluation + StepLR."""

    def __init__(self, *args, step_lr_epochs: float | None = None, step_lr_gamma: float = 0.1, **kwargs):
        super().__init__(*args, **kwargs)
        self.step_lr_epochs = step_lr_epochs
        self.step_lr_gamma = step_lr_gamma

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        pixel_values = inputs["pixel_values"]
        if pixel_values.ndim != 5:
            return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys)
        # (batch, crops, C, H, W): score every crop, average the probabilities, report their log
        batch, crops = pixel_values.shape[:2]
        labels = inputs.get("labels")
        with torch.no_grad():
            logits = model(pixel_values=pixel_values.flatten(0, 1)).logits
            probs = logits.float().softmax(-1).view(batch, crops, -1).mean(1)
            log_probs = probs.clamp_min(1e-12).log()
            loss = torch.nn.functional.nll_loss(log_probs, labels) if labels is not None else None
        if prediction_loss_only:
            return loss, None, None
        return loss, log_probs, labels

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        if self.step_lr_epochs is None:
            return super().create_scheduler(num_training_steps, optimizer)
        optimizer = optimizer or self.optimizer
        steps_per_epoch = max(1, math.ceil(num_training_steps / self.args.num_train_epochs))
        step_size = max(1, round(self.step_lr_epochs * steps_per_epoch))
        gamma = self.step_lr_gamma
        self.lr_scheduler = LambdaLR(optimizer, lambda step: gamma ** (step // step_size))
        return self.lr_scheduler
