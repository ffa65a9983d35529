# MaskRIS on the demo CARIS (configs/demo/caris_tiny_shapes.py): the same
# network and schedule, trained with masked images and text and
# Distortion-aware Contextual Learning. What `make demo` trains.
_base_ = ['./caris_tiny_shapes.py']

model = dict(
    type='MaskRISSegmentor',
    dcl=dict(
        lambda_clean=0.5,  # clean-pass weight; masked pass gets 1 - lambda
        image_masking=True,
        text_masking=True,
        distill=True,
        memory_saving=True,
        batched=True,  # fast path: both passes in one 2B forward
        class_weight={{_base_.class_weight}}))
model_wrapper_cfg = dict(type='MaskRISDistributedDataParallel')

# The train pipeline plus the masking transform: 75 % of the 16x16 patches
# of the 128x128 input hidden (16 of 64 kept), 15 % of the WordPieces
# corrupted.
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadRefImage'),
        dict(type='LoadRefMask'),
        dict(
            type='Resize',
            scale={{_base_.img_scale}},
            keep_ratio=False,
            backend='pillow'),
        dict(
            type='BertTokenize',
            tokenizer={{_base_.bert_path}},
            max_length={{_base_.max_tokens}}),
        dict(
            type='MaskRIS',
            img_mask_ratio=0.75,
            patch_size=16,
            txt_mask_ratio=0.15,
            txt_sub_probs=(0.8, 0.1)),
        dict(type='PackRISInputs'),
    ]))
