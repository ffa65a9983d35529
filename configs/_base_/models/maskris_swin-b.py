# MaskRIS (arXiv 2411.19067) on CARIS: the same network, trained with masked
# images and text and Distortion-aware Contextual Learning (DCL).
_base_ = ['./caris_swin-b.py']
model = dict(
    type='MaskRISSegmentor',
    dcl=dict(
        lambda_clean=0.5,  # clean-pass weight; masked pass gets 1 - lambda
        image_masking=True,  # zero-fill the hidden patches (masked pass)
        text_masking=True,  # feed the corrupted WordPieces (masked pass)
        distill=True,  # False: masking without DCL (GT on masked inputs)
        memory_saving=True,  # two backward passes, one optimizer step
        class_weight=(0.9, 1.1)))
# Lets the segmentor run its two-backward step under DDP (CPU and GPU).
model_wrapper_cfg = dict(type='MaskRISDistributedDataParallel')

# The MaskRIS train pipeline: the CARIS one plus the masking transform, which
# draws the hidden patches and corrupts a copy of the ids (the clean ones
# stay for the clean pass). Leaf configs use it as
#   train_dataloader = dict(
#       dataset=dict(pipeline={{_base_.maskris_train_pipeline}}))
maskris_train_pipeline = [
    dict(type='LoadRefImage'),
    dict(type='LoadRefMask'),
    dict(type='Resize', scale=(448, 448), keep_ratio=False, backend='pillow'),
    dict(type='BertTokenize', tokenizer='bert-base-uncased', max_length=20),
    dict(
        type='MaskRIS',
        img_mask_ratio=0.75,  # 49 of 196 32x32 patches kept at 448
        patch_size=32,
        txt_mask_ratio=0.15,  # WordPieces selected
        txt_sub_probs=(0.8, 0.1)),  # [MASK], random id; else unchanged
    dict(type='PackRISInputs'),
]
