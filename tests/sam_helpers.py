"""A randomly initialised SAM with the vit_b image encoder (768 wide, 12 blocks, global attention at 2/5/8/11) at a
64-pixel input: the real ``SamAutomaticMaskGenerator`` path in about a second on a CPU (vit_b at SAM's 1024
pixels takes over a minute here)."""

from __future__ import annotations

from functools import partial

import pytest
import torch


def small_vit_b_sam(image_size: int = 64, seed: int = 0) -> torch.nn.Module:
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    torch.manual_seed(seed)
    side = image_size // 16
    encoder = ImageEncoderViT(depth=12, embed_dim=768, img_size=image_size, mlp_ratio=4,
                              norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), num_heads=12, patch_size=16, qkv_bias=True,
                              use_rel_pos=True, global_attn_indexes=(2, 5, 8, 11), window_size=14, out_chans=256)
    prompt = PromptEncoder(embed_dim=256, image_embedding_size=(side, side), input_image_size=(image_size, image_size),
                           mask_in_chans=16)
    decoder = MaskDecoder(num_multimask_outputs=3, transformer=TwoWayTransformer(depth=2, embedding_dim=256, mlp_dim=2048, num_heads=8),
                          transformer_dim=256, iou_head_depth=3, iou_head_hidden_dim=256)
    return Sam(image_encoder=encoder, prompt_encoder=prompt, mask_decoder=decoder).eval()


@pytest.fixture(scope="session")
def small_sam() -> torch.nn.Module:
    """One small random vit_b SAM shared by the tests of a session (building it costs seconds)."""
    return small_vit_b_sam()
