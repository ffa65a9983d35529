# CARIS (ACM MM 2023): Swin-B + BERT-base with image-conditioned text prompts
# and the context-aware mask decoder (6 SVLA layers, width 256).
# Pretrained weights: the leaf configs set `swin_checkpoint` and `bert_path`
# at their top (also --cfg-options swin_checkpoint=... bert_path=...); the
# tools apply these top-level keys everywhere (mmris/utils/config_paths.py).
# The official Microsoft ImageNet-22k Swin-B, loaded as is (no conversion).
swin_checkpoint = 'pretrain/swin_base_patch4_window7_224_22k.pth'

model = dict(
    type='RISEncoderDecoder',
    data_preprocessor=dict(type='RISDataPreprocessor'),
    backbone=dict(
        type='CARISPromptEncoder',
        vis_encoder=dict(
            type='CARISSwinTransformer',
            embed_dims=128,
            depths=(2, 2, 18, 2),
            num_heads=(4, 8, 16, 32),
            window_size=7,
            drop_path_rate=0.3,
            out_indices=(0, 1, 2, 3),
            pretrained=swin_checkpoint),
        lang_encoder=dict(
            type='BertTextEncoder', pretrained='bert-base-uncased'),
        conditional_prompts=dict(
            type='ConditionalPrompt',
            in_channels=1024,
            embed_dims=768,
            prompt_levels=(1, 2))),
    decode_head=dict(
        type='CARISHead',
        in_channels=(128, 256, 512, 1024),
        channels=256,
        text_channels=768,
        num_layers=6,
        num_heads=8,
        num_levels=3,
        num_points=4,
        attn_embed_dims=1024,
        num_prompts=5,
        norm_cfg=dict(type='GN', num_groups=32)),
    # weighted CE (background 0.9, referent 1.1) at the GT resolution
    loss_decode=dict(type='RISCrossEntropyLoss', class_weight=(0.9, 1.1)),
    # masks at the 448x448 input size (the reference protocol); set
    # output_size='original' to evaluate at each image's own size
    test_cfg=dict(output_size='input'))
