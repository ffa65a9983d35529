import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every module that registers into mmris, mmseg and mmdet.

    Args:
        init_default_scope: make ``mmris`` the current default scope (a new,
            time-stamped one if another scope is current), as mmseg does.
    """
    import mmdet.datasets  # noqa: F401
    import mmdet.engine  # noqa: F401
    import mmdet.evaluation  # noqa: F401
    import mmdet.models  # noqa: F401
    import mmseg.datasets  # noqa: F401
    import mmseg.engine  # noqa: F401
    import mmseg.evaluation  # noqa: F401
    import mmseg.models  # noqa: F401
    import mmseg.structures  # noqa: F401
    import mmseg.visualization  # noqa: F401

    import mmris.apis  # noqa: F401
    import mmris.datasets  # noqa: F401
    import mmris.engine  # noqa: F401
    import mmris.evaluation  # noqa: F401
    import mmris.models  # noqa: F401
    import mmris.visualization  # noqa: F401

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or not DefaultScope.check_instance_created('mmris'):
        DefaultScope.get_instance('mmris', scope_name='mmris')
    elif current.scope_name != 'mmris':
        warnings.warn(f'The current default scope "{current.scope_name}" is '
                      'not "mmris"; creating a new mmris default scope.')
        name = f'mmris-{datetime.datetime.now()}'
        DefaultScope.get_instance(name, scope_name='mmris')
