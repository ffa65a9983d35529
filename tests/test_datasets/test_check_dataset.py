"""tools/misc/check_dataset.py names every problem of a broken layout."""
import json
import os
import os.path as osp
import pickle
import shutil
import subprocess
import sys

from PIL import Image

from mmris.datasets.check import check_data_root
from mmris.testing.tools import load_script

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'misc', 'check_dataset.py')
IMG = 'COCO_train2014_000000{}.jpg'


def test_complete_sample_passes(refer_data_root, refer_summary):
    report = check_data_root(
        refer_data_root, verify_images=True, decode_masks=True)
    assert report.ok, report.errors
    assert report.warnings == []
    counts = report.counts['refcoco (unc)']
    assert list(counts) == refer_summary['refcoco/refs(unc).p']['splits']
    assert counts['val'] == (2, 6, 1)  # refs, sentences, images
    assert len(report.counts) == 5  # refcocom absent: not required


def _edit_pickle(path, edit):
    with open(path, 'rb') as f:
        refs = pickle.load(f)
    edit(refs)
    with open(path, 'wb') as f:
        pickle.dump(refs, f)


def _broken_layout(src, root):
    """A copy of the sample with one problem of each kind."""
    shutil.copytree(src, root)
    refer = osp.join(root, 'refer')
    img_dir = osp.join(root, 'train2014')
    os.remove(osp.join(refer, 'refcoco+', 'instances.json'))
    with open(osp.join(refer, 'refcoco', 'refs(google).p'), 'wb') as f:
        f.write(b'\x80\x02]q')  # truncated pickle

    def break_umd(refs):
        refs[0]['ann_id'] = 42  # not in instances.json
        refs[1]['sentences'][0]['sent'] = '  '  # empty sentence

    _edit_pickle(osp.join(refer, 'refcocog', 'refs(umd).p'), break_umd)
    inst_path = osp.join(refer, 'refcocog', 'instances.json')
    with open(inst_path, encoding='utf-8') as f:
        inst = json.load(f)
    for ann in inst['annotations']:
        if ann['id'] == 2108780:  # refcocog umd val ref 5771
            ann['segmentation'] = [[10, 10, 20, 20]]
    with open(inst_path, 'w', encoding='utf-8') as f:
        json.dump(inst, f)
    os.remove(osp.join(img_dir, IMG.format(572949)))
    good = open(osp.join(img_dir, IMG.format(495169)), 'rb').read()
    with open(osp.join(img_dir, IMG.format(495169)), 'wb') as f:
        f.write(good[:len(good) // 2])  # truncated JPEG
    Image.new('RGB', (32, 24)).save(osp.join(img_dir, IMG.format(510027)))
    return root


def test_broken_layout_names_each_problem(refer_data_root, tmp_path):
    root = _broken_layout(refer_data_root, str(tmp_path / 'broken'))
    report = check_data_root(root, verify_images=True)
    text = '\n'.join(report.errors)
    assert not report.ok
    expected = [
        # missing file, with its path
        osp.join(root, 'refer/', 'refcoco+', 'instances.json'),
        # unreadable pickle
        'refs(google).p is not a readable REFER refs pickle',
        # dangling annotation id
        'ref 9093: annotation 42 not in instances.json',
        # degenerate polygon
        'ref 5771 (ann 2108780): no polygon with >= 3 points',
        # missing, corrupt and wrongly-sized images
        osp.join(root, 'train2014/', IMG.format(572949)) + ' (used by',
        IMG.format(495169) + ': OSError',
        IMG.format(510027) + ': 24x32 (HxW), instances.json says 480x640',
    ]
    for item in expected:
        assert item in text, item
    assert any('refcocog (umd): empty sentences' in w and 'ref_id=12980' in w
               for w in report.warnings)


def test_missing_top_level_parts(tmp_path, refer_data_root):
    report = check_data_root(str(tmp_path / 'absent'))
    assert report.errors == [
        f'DATA_PATH {tmp_path / "absent"} does not exist (or is not a '
        'folder).'
    ]
    root = str(tmp_path / 'noimg')
    shutil.copytree(
        osp.join(refer_data_root, 'refer'), osp.join(root, 'refer'))
    report = check_data_root(root, datasets=['refcocog'])
    assert report.errors == [
        f'image folder {osp.join(root, "train2014/")} does not exist: '
        'unzip COCO train2014.zip there.'
    ]
    assert list(report.counts) == ['refcocog (umd)', 'refcocog (google)']
    report = check_data_root(root, datasets=['refcocom'], check_images=False)
    assert 'refs(mix).p' in report.errors[-1]


def test_refcocom_is_checked_when_present(refcocom_data_root):
    root, counts = refcocom_data_root
    report = check_data_root(root, check_images=False)
    assert report.ok, report.errors
    assert report.counts['refcocom (mix)']['train'][:2] == (
        counts['refs'], counts['sentences'])


def test_cli_exit_status_and_output(refer_data_root, tmp_path, capsys):
    root = _broken_layout(refer_data_root, str(tmp_path / 'broken'))
    run = subprocess.run(
        [sys.executable, TOOL, root, '--datasets', 'refcocog'],
        capture_output=True,
        text=True,
        timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    assert 'ERROR: refcocog (umd): malformed refs (1):' in run.stdout
    assert 'images whose size differs from the annotation (1):' in run.stdout
    assert 'FAILED:' in run.stdout
    # the passing case in-process (the tool's main returns the status)
    tool = load_script(TOOL, 'check_dataset')
    assert tool.main([refer_data_root]) == 0
    out = capsys.readouterr().out
    assert 'refcocog (google)   val' in out
    assert out.strip().endswith('(5 annotation sets checked).')
