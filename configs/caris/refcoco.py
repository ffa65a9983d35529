# Short name of caris_swin-b_bert_50e_refcoco.py (use the long name with
# `mim train/test mmris`, which finds configs by unique file name).
_base_ = ['./caris_swin-b_bert_50e_refcoco.py']
