"""mmris: Referring Image Segmentation (CARIS, MaskRIS) for OpenMMLab."""
import mmcv
import mmengine
from mmengine.utils import digit_version

from .utils.compat import apply_runtime_patches
from .version import __version__, version_info

MMCV_MIN, MMCV_MAX = '2.0.0', '2.2.0'
MMENGINE_MIN, MMENGINE_MAX = '0.10.0', '1.0.0'

assert digit_version(MMCV_MIN) <= digit_version(mmcv.__version__) < \
    digit_version(MMCV_MAX), (
        f'mmcv=={mmcv.__version__} is installed but mmris needs '
        f'mmcv>={MMCV_MIN},<{MMCV_MAX} (mmseg 1.2.2 and mmdet 3.3.0 reject '
        'newer ones). See README "Installation".')
assert digit_version(MMENGINE_MIN) <= digit_version(mmengine.__version__) < \
    digit_version(MMENGINE_MAX), (
        f'mmengine=={mmengine.__version__} is installed but mmris needs '
        f'mmengine>={MMENGINE_MIN},<{MMENGINE_MAX}.')

apply_runtime_patches()

__all__ = ['__version__', 'version_info']
