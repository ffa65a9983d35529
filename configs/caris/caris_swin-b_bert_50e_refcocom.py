# CARIS without MaskRIS on refcocom (the reference recipe; see
# caris_swin-b_bert_50e_refcoco.py).
_base_ = [
    '../_base_/models/caris_swin-b.py',
    '../_base_/datasets/refer_refcocom.py',
    '../_base_/schedules/schedule_50e.py', '../_base_/default_runtime.py'
]
# ---- paths to edit (applied everywhere by tools/train.py and test.py) ----
data_root = 'data/'
swin_checkpoint = 'pretrain/swin_base_patch4_window7_224_22k.pth'
bert_path = 'bert-base-uncased'
