# One import line per transform module (sorted).
from .formatting import PackRISInputs  # noqa: F401
from .loading import LoadRefImage, LoadRefMask  # noqa: F401
from .maskris import MaskRIS  # noqa: F401
from .text import BertTokenize  # noqa: F401
