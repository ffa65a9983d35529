# Short name of maskris_swin-b_bert_50e_refcoco+.py (with `mim train/test
# mmris`, which finds configs by file name, use the long, unique name).
_base_ = ['./maskris_swin-b_bert_50e_refcoco+.py']
