import pytest

from mmris.testing import build_refer_sample


@pytest.fixture(scope='session')
def sample_data_root(tmp_path_factory):
    return build_refer_sample(str(tmp_path_factory.mktemp('refer_sample')))
