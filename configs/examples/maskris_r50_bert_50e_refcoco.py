# Worked example: MaskRIS with another image backbone, by config
# inheritance. Any backbone that returns four maps at strides 4-32 fits:
# here mmseg's ResNet-50 (V1c), found through the registry chain
# (mmris -> mmseg) without a prefix. Only the channel counts that depend on
# the backbone change: the prompt MLP reads the last map, the decoder all.
_base_ = ['../maskris/maskris_swin-b_bert_50e_refcoco.py']

swin_checkpoint = None  # no Swin in this model
model = dict(
    backbone=dict(
        vis_encoder=dict(
            _delete_=True,
            type='ResNetV1c',
            depth=50,
            out_indices=(0, 1, 2, 3),
            norm_cfg=dict(type='BN', requires_grad=True),
            init_cfg=dict(
                type='Pretrained', checkpoint='open-mmlab://resnet50_v1c')),
        conditional_prompts=dict(in_channels=2048)),
    decode_head=dict(in_channels=(256, 512, 1024, 2048)))
