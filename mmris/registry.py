"""The ``mmris`` registry scope.

Every registry is a child of mmseg's, so a config with
``default_scope='mmris'`` finds mmris modules first, then mmseg's (and,
through mmseg, mmengine's), and reaches mmdet's with the ``mmdet.`` prefix.
Note: mmengine code that calls ``get`` on a *root* registry (not ``build``)
cannot see mmris, a grandchild; see ``mmris/engine/compat.py``.
"""
from mmengine.registry import Registry
from mmseg.registry import DATA_SAMPLERS as MMSEG_DATA_SAMPLERS
from mmseg.registry import DATASETS as MMSEG_DATASETS
from mmseg.registry import EVALUATOR as MMSEG_EVALUATOR
from mmseg.registry import HOOKS as MMSEG_HOOKS
from mmseg.registry import INFERENCERS as MMSEG_INFERENCERS
from mmseg.registry import LOG_PROCESSORS as MMSEG_LOG_PROCESSORS
from mmseg.registry import LOOPS as MMSEG_LOOPS
from mmseg.registry import METRICS as MMSEG_METRICS
from mmseg.registry import MODEL_WRAPPERS as MMSEG_MODEL_WRAPPERS
from mmseg.registry import MODELS as MMSEG_MODELS
from mmseg.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMSEG_OPTIM_WRAPPER_CONSTRUCTORS
from mmseg.registry import OPTIM_WRAPPERS as MMSEG_OPTIM_WRAPPERS
from mmseg.registry import OPTIMIZERS as MMSEG_OPTIMIZERS
from mmseg.registry import PARAM_SCHEDULERS as MMSEG_PARAM_SCHEDULERS
from mmseg.registry import RUNNER_CONSTRUCTORS as MMSEG_RUNNER_CONSTRUCTORS
from mmseg.registry import RUNNERS as MMSEG_RUNNERS
from mmseg.registry import TASK_UTILS as MMSEG_TASK_UTILS
from mmseg.registry import TRANSFORMS as MMSEG_TRANSFORMS
from mmseg.registry import VISBACKENDS as MMSEG_VISBACKENDS
from mmseg.registry import VISUALIZERS as MMSEG_VISUALIZERS
from mmseg.registry import \
    WEIGHT_INITIALIZERS as MMSEG_WEIGHT_INITIALIZERS


def _child(name, parent, location):
    return Registry(
        name, parent=parent, scope='mmris', locations=[f'mmris.{location}'])


RUNNERS = _child('runner', MMSEG_RUNNERS, 'engine')
RUNNER_CONSTRUCTORS = _child('runner constructor', MMSEG_RUNNER_CONSTRUCTORS,
                             'engine')
LOOPS = _child('loop', MMSEG_LOOPS, 'engine')
HOOKS = _child('hook', MMSEG_HOOKS, 'engine.hooks')
DATASETS = _child('dataset', MMSEG_DATASETS, 'datasets')
DATA_SAMPLERS = _child('data sampler', MMSEG_DATA_SAMPLERS, 'datasets')
TRANSFORMS = _child('transform', MMSEG_TRANSFORMS, 'datasets.transforms')
MODELS = _child('model', MMSEG_MODELS, 'models')
MODEL_WRAPPERS = _child('model_wrapper', MMSEG_MODEL_WRAPPERS, 'engine')
WEIGHT_INITIALIZERS = _child('weight initializer', MMSEG_WEIGHT_INITIALIZERS,
                             'models')
OPTIMIZERS = _child('optimizer', MMSEG_OPTIMIZERS, 'engine.optimizers')
OPTIM_WRAPPERS = _child('optim_wrapper', MMSEG_OPTIM_WRAPPERS,
                        'engine.optimizers')
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor',
                                    MMSEG_OPTIM_WRAPPER_CONSTRUCTORS,
                                    'engine.optimizers')
PARAM_SCHEDULERS = _child('parameter scheduler', MMSEG_PARAM_SCHEDULERS,
                          'engine.schedulers')
METRICS = _child('metric', MMSEG_METRICS, 'evaluation')
EVALUATOR = _child('evaluator', MMSEG_EVALUATOR, 'evaluation')
TASK_UTILS = _child('task util', MMSEG_TASK_UTILS, 'models')
VISUALIZERS = _child('visualizer', MMSEG_VISUALIZERS, 'visualization')
VISBACKENDS = _child('vis_backend', MMSEG_VISBACKENDS, 'visualization')
LOG_PROCESSORS = _child('log_processor', MMSEG_LOG_PROCESSORS, 'engine')
INFERENCERS = _child('inferencer', MMSEG_INFERENCERS, 'apis')
