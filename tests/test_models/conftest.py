import pytest


@pytest.fixture(autouse=True, scope='session')
def _mmris_default_scope():
    """Models build their data preprocessor through mmengine's registry,
    which finds mmris modules only under the ``mmris`` default scope (the
    tools set it from the config)."""
    from mmris.utils import register_all_modules
    register_all_modules(init_default_scope=True)
