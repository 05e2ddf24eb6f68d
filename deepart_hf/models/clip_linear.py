"""UniversalFakeDetect (Ojha et al., CVPR 2023): a frozen CLIP ViT image encoder and a linear head on its image
embedding, as a saved model can carry it.

The paper's feature is CLIP's image embedding (the final CLS token after CLIP's last layer norm and projection,
768-d for ViT-L/14), not the mean of the patch tokens that transformers' ``CLIPForImageClassification``
classifies, so the model is ``CLIPVisionModelWithProjection`` with a ``classifier`` on ``image_embeds``. Which
weights stay frozen is the training's business (the registry's spec freezes the backbone by default).

The classes register for the auto classes, so ``save_pretrained`` copies this file into the model folder:
``pipeline(..., trust_remote_code=True)`` works with transformers alone, and after ``import deepart_hf.models`` without
``trust_remote_code``. Keep it self-contained (torch and transformers only).
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection, PreTrainedConfig, PreTrainedModel
from transformers.modeling_outputs import ImageClassifierOutput

MODEL_TYPE = "deepart_clip_linear"


class CLIPLinearConfig(PreTrainedConfig):
    r"""
    vision_config (`dict` or `CLIPVisionConfig`): the CLIP image encoder's config.
    """

    model_type = MODEL_TYPE
    sub_configs_defaults = {"vision_config": CLIPVisionConfig}

    vision_config: dict | CLIPVisionConfig | None = None


class CLIPLinearForImageClassification(PreTrainedModel):
    """CLIP's image embedding -> a linear human/ai head."""

    config_class = CLIPLinearConfig
    main_input_name = "pixel_values"
    input_modalities = ("image",)

    def __init__(self, config: CLIPLinearConfig):
        super().__init__(config)
        self.clip = CLIPVisionModelWithProjection._from_config(config.vision_config)
        self.classifier = nn.Linear(config.vision_config.projection_dim, config.num_labels)
        self.post_init()

    def _init_weights(self, module):
        if module is self.classifier:
            nn.init.normal_(module.weight, std=self.config.vision_config.initializer_range)
            nn.init.zeros_(module.bias)
        # the encoder initialises its own weights (or is loaded from CLIP's)

    def forward(
        self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None, **kwargs
    ) -> ImageClassifierOutput:
        logits = self.classifier(self.clip(pixel_values=pixel_values).image_embeds)
        loss = nn.functional.cross_entropy(logits.float(), labels) if labels is not None else None
        return ImageClassifierOutput(loss=loss, logits=logits)


CLIPLinearConfig.register_for_auto_class()
CLIPLinearForImageClassification.register_for_auto_class("AutoModelForImageClassification")
