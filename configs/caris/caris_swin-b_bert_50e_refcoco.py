# CARIS on RefCOCO (UNC): the baseline without MaskRIS, the reference recipe
# (448x448, AdamW 1e-4 with 0.1x for Swin and BERT, wd 0.01, clip 1.0, fp16,
# 8 images per GPU x 2 GPUs, 50 epochs, best checkpoint by val oIoU).
_base_ = [
    '../_base_/models/caris_swin-b.py',
    '../_base_/datasets/refer_refcoco.py',
    '../_base_/schedules/schedule_50e.py', '../_base_/default_runtime.py'
]
# ---- paths to edit (applied everywhere by tools/train.py and test.py) ----
data_root = 'data/'
swin_checkpoint = 'pretrain/swin_base_patch4_window7_224_22k.pth'
bert_path = 'bert-base-uncased'
