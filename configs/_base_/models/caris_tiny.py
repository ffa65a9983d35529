# A CARIS of the same architecture at toy widths, randomly initialised, for
# tests and CPU dry runs (seconds per iteration on a laptop CPU). Nothing is
# downloaded: the text encoder is a 2-layer BERT built from its config.
_base_ = ['./caris_swin-b.py']
swin_checkpoint = None
model = dict(
    backbone=dict(
        vis_encoder=dict(
            embed_dims=16,
            depths=(1, 1, 2, 1),
            num_heads=(1, 2, 2, 4),
            drop_path_rate=0.1,
            pretrained=None),
        lang_encoder=dict(
            _delete_=True,
            type='BertTextEncoder',
            config=dict(
                vocab_size=30522,
                hidden_size=32,
                num_hidden_layers=2,
                num_attention_heads=2,
                intermediate_size=64)),
        conditional_prompts=dict(in_channels=128, embed_dims=32)),
    decode_head=dict(
        in_channels=(16, 32, 64, 128),
        channels=32,
        text_channels=32,
        num_layers=2,
        num_heads=4,
        attn_embed_dims=64,
        norm_cfg=dict(type='GN', num_groups=8)))
