# Worked example: MaskRIS on your own data set, by config inheritance.
#
# Lay the data out as REFER does (docs/customize.md):
#   <data_root>/train2014/<image files>           (or set data_prefix)
#   <data_root>/refer/mydata/refs(unc).p          refs with split names
#   <data_root>/refer/mydata/instances.json       COCO images/annotations
# A data set name that mmris does not know needs an explicit split_by (the
# <split_by> of the refs file); its splits are read from that file.
_base_ = ['../maskris/maskris_swin-b_bert_50e_refcoco.py']

data_root = 'data/'
my_data = dict(dataset='mydata', split_by='unc')

train_dataloader = dict(dataset=dict(**my_data, split='train'))
val_dataloader = dict(dataset=dict(**my_data, split='val'))
test_dataloader = dict(
    dataset=dict(
        _delete_=True,  # one split instead of RefCOCO's val/testA/testB
        type='RefCOCODataset',
        data_root=data_root,
        **my_data,
        split='test',
        test_mode=True,
        pipeline={{_base_.test_pipeline}}))
