"""Tests of RISMetric: hand-computed values, mmdet, grouping, ranks."""
import multiprocessing
import socket

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmris.evaluation import RISMetric
from mmris.registry import METRICS


def masks_with(inter, pred_only, gt_only, size=(6, 8)):
    """A (pred, gt) pair with the given I and the given extra pixels."""
    pred = torch.zeros(size, dtype=torch.long)
    gt = torch.zeros(size, dtype=torch.long)
    flat_p, flat_g = pred.view(-1), gt.view(-1)
    flat_p[:inter + pred_only] = 1
    flat_g[:inter] = 1
    flat_g[inter + pred_only:inter + pred_only + gt_only] = 1
    return pred, gt


def sample(pred, gt, ori_gt=None, **meta):
    data = SegDataSample()
    data.pred_sem_seg = PixelData(data=pred[None])
    data.gt_sem_seg = PixelData(data=gt[None])
    if ori_gt is not None:
        data.set_data(dict(ori_gt_sem_seg=PixelData(data=ori_gt[None])))
    data.set_metainfo(meta)
    return data.to_dict()


# (I, pred-only pixels, gt-only pixels) -> U = I + both extras
HAND = [(2, 1, 2), (6, 0, 0), (0, 1, 2), (7, 2, 1)]
# I/U = 2/5, 6/6, 0/3, 7/10
HAND_EXPECTED = {
    'oIoU': 100 * 15 / 24,
    'mIoU': 100 * (0.4 + 1.0 + 0.0 + 0.7) / 4,
    'P@0.5': 50.0,
    'P@0.6': 50.0,
    'P@0.7': 50.0,  # IoU >= X: 7/10 counts at 0.7
    'P@0.8': 25.0,
    'P@0.9': 25.0,
}


def test_hand_computed_example(mmris_scope):
    metric = METRICS.build(dict(type='RISMetric'))
    metric.process({}, [sample(*masks_with(*c), split='val') for c in HAND])
    out = metric.evaluate(len(HAND))
    assert list(out) == list(HAND_EXPECTED)
    for key, value in HAND_EXPECTED.items():
        assert abs(out[key] - value) < 1e-9, key


def test_agrees_with_mmdet_refsegmetric():
    """Same masks through mmdet's cIoU/mIoU (one image, several texts)."""
    from mmdet.evaluation import RefSegMetric
    from mmdet.structures.mask import BitmapMasks
    rng = np.random.default_rng(0)
    ours, theirs = RISMetric(), RefSegMetric()
    for _ in range(5):  # 5 images with 1-3 sentences each
        num = int(rng.integers(1, 4))
        preds = rng.random((num, 12, 10)) > 0.5
        gts = rng.random((num, 12, 10)) > 0.4
        ours.process({}, [
            sample(torch.from_numpy(p).long(),
                   torch.from_numpy(g).long()) for p, g in zip(preds, gts)
        ])
        theirs.process({}, [
            dict(
                pred_instances=dict(masks=torch.from_numpy(preds)),
                gt_masks=BitmapMasks(gts.astype(np.uint8), 12, 10))
        ])
    mine, oracle = ours.compute_metrics(ours.results), \
        theirs.compute_metrics(theirs.results)
    # mmdet divides in float32
    assert abs(mine['oIoU'] - float(oracle['cIoU'])) < 1e-4
    assert abs(mine['mIoU'] - float(oracle['mIoU'])) < 1e-4


def test_empty_prediction_on_empty_target():
    empty = torch.zeros(4, 4, dtype=torch.long)
    pred, gt = masks_with(3, 0, 1, size=(4, 4))  # IoU 0.75
    data = [sample(empty, empty), sample(pred, gt)]
    default = RISMetric()
    default.process({}, data)
    out = default.compute_metrics(default.results)
    assert out['mIoU'] == pytest.approx(100 * (1.0 + 0.75) / 2)
    assert out['oIoU'] == pytest.approx(75.0)  # adds nothing to I or U
    as_mmdet = RISMetric(empty_iou=0.0)
    as_mmdet.process({}, data)
    assert as_mmdet.compute_metrics(
        as_mmdet.results)['mIoU'] == pytest.approx(37.5)


def test_one_table_per_split_and_prefixed_keys(monkeypatch):
    from mmris.evaluation.metrics import ris_metric
    logged = []
    monkeypatch.setattr(ris_metric, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    metric = RISMetric(iou_thrs=(0.5, ))
    perfect = masks_with(5, 0, 0)
    half = masks_with(2, 2, 0)
    metric.process({}, [
        sample(*perfect, split='val', dataset_name='refcoco_unc'),
        sample(*half, split='testA', dataset_name='refcoco_unc'),
        sample(*half, split='testA', dataset_name='refcoco_unc'),
    ])
    out = metric.compute_metrics(metric.results)
    assert out == {
        'val/oIoU': 100.0,
        'val/mIoU': 100.0,
        'val/P@0.5': 100.0,
        'testA/oIoU': 50.0,
        'testA/mIoU': 50.0,
        'testA/P@0.5': 100.0
    }
    assert len(logged) == 2
    assert 'val' in logged[0] and '100.00' in logged[0]
    assert 'testA' in logged[1] and '50.00' in logged[1]
    # several datasets (a refcocom model on each dataset's splits)
    metric = RISMetric(iou_thrs=(0.5, ))
    metric.process({}, [
        sample(*perfect, split='val', dataset_name='refcoco_unc'),
        sample(*half, split='val', dataset_name='refcocog_umd'),
    ])
    keys = list(metric.compute_metrics(metric.results))
    assert keys[0] == 'refcoco_unc/val/oIoU'
    assert 'refcocog_umd/val/mIoU' in keys


def test_original_resolution():
    pred, gt = masks_with(4, 1, 1)
    ori_pred, ori_gt = masks_with(9, 0, 3, size=(9, 11))
    metric = RISMetric(resolution='original')
    metric.process({}, [sample(ori_pred, gt, ori_gt=ori_gt)])
    assert metric.compute_metrics(metric.results)['oIoU'] == 75.0
    with pytest.raises(ValueError, match='differ in size.*original size'):
        metric.process({}, [sample(pred, gt, ori_gt=ori_gt)])
    with pytest.raises(KeyError, match='keep_ori_mask=True'):
        metric.process({}, [sample(pred, gt)])
    with pytest.raises(ValueError, match='resolution'):
        RISMetric(resolution='448')


def test_evaluator_drops_sampler_padding(mmris_scope):
    """A distributed sampler pads the last batch; size= trims it."""
    evaluator = Evaluator(dict(type='RISMetric'))
    data = [SegDataSample() for _ in HAND]
    for item, case in zip(data, HAND):
        pred, gt = masks_with(*case)
        item.pred_sem_seg = PixelData(data=pred[None])
        item.gt_sem_seg = PixelData(data=gt[None])
    duplicate = data[0].clone()
    evaluator.process(data + [duplicate], data_batch={})
    out = evaluator.evaluate(len(HAND))
    assert abs(out['oIoU'] - HAND_EXPECTED['oIoU']) < 1e-9


def _rank_main(rank, port, queue):
    import torch.distributed as dist
    dist.init_process_group(
        'gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=2)
    # DefaultSampler(shuffle=False) order: rank r gets items r, r+2, ...
    # plus padding (item 0 again) to equal lengths.
    cases = HAND + [HAND[0]]
    metric = RISMetric()
    metric.process({}, [sample(*masks_with(*c)) for c in cases[rank::2]])
    out = metric.evaluate(len(HAND))
    queue.put((rank, out))
    dist.destroy_process_group()


def test_distributed_collection_matches_single_process():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    ctx = multiprocessing.get_context('fork')
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_rank_main, args=(r, port, queue)) for r in range(2)
    ]
    for proc in procs:
        proc.start()
    results = dict(queue.get(timeout=60) for _ in procs)
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    for out in results.values():  # every rank gets the full result
        for key, value in HAND_EXPECTED.items():
            assert abs(out[key] - value) < 1e-9, key
