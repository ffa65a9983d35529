"""mmris setup.

Keep this project setup.py-only (no pyproject.toml): with pip<25.3 and
``wheel`` installed, ``pip install -e .`` then runs the legacy ``develop``
install, which symlinks tools/ and configs/ into mmris/.mim so that
``mim train mmris`` and ``mim test mmris`` find them.
"""
import os
import os.path as osp
import shutil
import sys
import warnings

from setuptools import find_packages, setup

MIM_FILES = ['tools', 'configs', 'demo', 'model-index.yml']


def readme():
    with open('README.md', encoding='utf-8') as f:
        return f.read()


def get_version():
    scope = {}
    with open(osp.join('mmris', 'version.py'), encoding='utf-8') as f:
        exec(compile(f.read(), 'mmris/version.py', 'exec'), scope)
    return scope['__version__']


def parse_requirements(fname):
    """Read a requirements file, skipping comments and blank lines."""
    with open(fname, encoding='utf-8') as f:
        return [
            line.strip() for line in f
            if line.strip() and not line.startswith('#')
        ]


def add_mim_extension():
    """Expose tools/configs as mmris/.mim for OpenMMLab's mim.

    ``develop`` (editable) installs get symlinks; wheels and sdists get
    copies; anything else is left alone.
    """
    if 'develop' in sys.argv:
        mode = 'symlink'
    elif any(cmd in sys.argv
             for cmd in ('sdist', 'bdist_wheel', 'install', 'build')):
        mode = 'copy'
    else:
        return

    repo = osp.dirname(osp.abspath(__file__))
    mim_path = osp.join(repo, 'mmris', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in MIM_FILES:
        src = osp.join(repo, name)
        tar = osp.join(mim_path, name)
        if not osp.exists(src):
            continue
        if osp.isfile(tar) or osp.islink(tar):
            os.remove(tar)
        elif osp.isdir(tar):
            shutil.rmtree(tar)
        if mode == 'symlink':
            try:
                os.symlink(osp.relpath(src, osp.dirname(tar)), tar)
                continue
            except OSError:
                warnings.warn(f'cannot symlink {src}; copying instead')
        if osp.isfile(src):
            shutil.copyfile(src, tar)
        else:
            shutil.copytree(src, tar)


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='mmris',
        version=get_version(),
        description='Referring Image Segmentation toolbox (CARIS, MaskRIS) '
        'for OpenMMLab',
        long_description=readme(),
        long_description_content_type='text/markdown',
        keywords='referring image segmentation, MaskRIS, CARIS, OpenMMLab',
        packages=find_packages(exclude=('configs', 'tools', 'demo', 'tests')),
        include_package_data=True,
        python_requires='>=3.8',
        license='Apache License 2.0',
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require=dict(
            tests=parse_requirements('requirements/tests.txt'),
            mim=parse_requirements('requirements/mminstall.txt')),
        zip_safe=False)
