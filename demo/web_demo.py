"""A browser demo of referring image segmentation (FastAPI + uvicorn).

Usage::

    pip install -r requirements/demo.txt
    python demo/web_demo.py CONFIG --weights CKPT [--port 7860] \\
        [--host 127.0.0.1] [--device cpu] [--examples DIR]

then open http://127.0.0.1:7860/ : upload an image (or pick one of the
``--examples`` images), type one or more sentences (one per line) and
press *Segment*. The page shows the overlay (one colour per sentence, the
sentences written on it) and the score of every mask.

Endpoints:

* ``GET /``: the page (one HTML file, ``demo/web_demo.html``, with inline
  CSS and JS; nothing is loaded from elsewhere).
* ``GET /info``: the config, checkpoint, device, example names and
  whether the weights are random.
* ``GET /examples/{name}``: an example image.
* ``POST /predict`` (multipart form): ``image`` (file) or ``example``
  (name), ``texts`` (one field per sentence; a field with several lines
  counts each line), optional ``with_text`` (write the sentences on the
  overlay, default true), ``alpha`` (mask opacity, 0.5) and ``masks``
  (``both``, ``rle``, ``png`` or ``none``; default ``both``). It answers
  JSON: ``width``, ``height``, ``overlay`` (PNG data URL), ``seconds``,
  ``random_weights`` and ``predictions``, one per sentence with
  ``sentence``, ``score``, ``area`` (pixels), ``color`` (``#rrggbb``),
  ``mask_rle`` (COCO RLE, ``counts`` a str) and ``mask_png`` (0/255 PNG
  data URL) at the size of the uploaded image.

Without ``--weights`` the demo refuses to start (the masks of a random
network mean nothing) unless ``--allow-random-weights`` is given.
"""
import base64
import io
import os
import os.path as osp
import sys
import threading
import time
from argparse import ArgumentParser, Namespace
from typing import Dict, List, Optional, Sequence

import numpy as np

PAGE = osp.join(osp.dirname(osp.abspath(__file__)), 'web_demo.html')
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')
MASK_FORMATS = ('both', 'rle', 'png', 'none')
NO_WEIGHTS_MESSAGE = (
    'no checkpoint given (--weights CKPT): the network would have random '
    'weights and its masks would be meaningless. Get one with `make demo` '
    '(trains configs/demo/maskris_tiny_shapes.py into '
    'work_dirs/maskris_tiny_shapes/, then pass --weights '
    'work_dirs/maskris_tiny_shapes/<checkpoint>.pth), or pass '
    '--allow-random-weights to start anyway.')


def build_parser() -> ArgumentParser:
    """The command line of the web demo."""
    parser = ArgumentParser(
        description='Browser demo of referring image segmentation')
    parser.add_argument('config', help='model config file (.py)')
    parser.add_argument('--weights', help='checkpoint file')
    parser.add_argument(
        '--host',
        default='127.0.0.1',
        help='address to listen on (default 127.0.0.1: this machine only)')
    parser.add_argument('--port', type=int, default=7860, help='port')
    parser.add_argument(
        '--device', default=None, help='cuda or cpu (default: cuda if any)')
    parser.add_argument(
        '--examples', help='folder of example images offered on the page')
    parser.add_argument(
        '--max-examples',
        type=int,
        default=50,
        help='list at most this many --examples images (default 50)')
    parser.add_argument(
        '--max-sentences',
        type=int,
        default=8,
        help='most sentences per request (default 8)')
    parser.add_argument(
        '--max-upload-mb',
        type=float,
        default=20,
        help='largest accepted image file in MiB (default 20)')
    parser.add_argument(
        '--allow-random-weights',
        action='store_true',
        help='start without --weights (random network, meaningless masks)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=_dict_action(),
        help='override config settings, e.g. bert_path=/path/to/bert')
    return parser


def _dict_action():
    """mmengine's ``DictAction`` (imported lazily: ``--help`` stays fast)."""
    from mmengine.config import DictAction
    return DictAction


def parse_args(argv: Optional[Sequence[str]] = None) -> Namespace:
    """Parse the command line; exit with code 2 on a missing checkpoint."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.weights is None and not args.allow_random_weights:
        parser.error(NO_WEIGHTS_MESSAGE)
    if args.weights is not None and not osp.isfile(args.weights):
        parser.error(f'checkpoint "{args.weights}" does not exist')
    if not osp.isfile(args.config):
        parser.error(f'config "{args.config}" does not exist')
    if args.examples is not None and not osp.isdir(args.examples):
        parser.error(f'--examples "{args.examples}" is not a folder')
    if args.max_sentences < 1:
        parser.error('--max-sentences must be at least 1')
    return args


# ----------------------------------------------------------------------
# inputs and outputs
# ----------------------------------------------------------------------
def list_examples(folder: Optional[str],
                  limit: Optional[int] = None) -> Dict[str, str]:
    """``{file name: path}`` of the images directly in ``folder`` (the
    first ``limit`` by name)."""
    if not folder:
        return {}
    names = [
        name for name in sorted(os.listdir(folder))
        if name.lower().endswith(IMAGE_EXTENSIONS)
        and osp.isfile(osp.join(folder, name))
    ]
    return {name: osp.join(folder, name) for name in names[:limit]}


def decode_image(data: bytes) -> np.ndarray:
    """uint8 ``HxWx3`` BGR from encoded image bytes, upright by EXIF.

    Raises:
        ValueError: The bytes are not an image pillow can read.
    """
    from PIL import Image, ImageOps
    try:
        with Image.open(io.BytesIO(data)) as image:
            image = ImageOps.exif_transpose(image)
            rgb = np.asarray(image.convert('RGB'))
    except Exception as err:  # pillow raises many kinds
        raise ValueError(f'cannot decode the image: {type(err).__name__}: '
                         f'{err}') from err
    return np.ascontiguousarray(rgb[..., ::-1])


def split_sentences(texts: Sequence[str]) -> List[str]:
    """Every non-blank line of every field, stripped, in order."""
    sentences = []
    for text in texts:
        sentences.extend(line.strip() for line in str(text).splitlines())
    return [s for s in sentences if s]


def png_bytes(image: np.ndarray) -> bytes:
    """PNG encoding of a uint8 BGR (or single-channel) image."""
    import cv2
    ok, buf = cv2.imencode('.png', image)
    if not ok:
        raise RuntimeError('PNG encoding failed')
    return buf.tobytes()


def data_url(png: bytes) -> str:
    """``data:image/png;base64,...`` of PNG bytes."""
    return 'data:image/png;base64,' + base64.b64encode(png).decode('ascii')


def hex_color(bgr: Sequence[int]) -> str:
    """``#rrggbb`` of a BGR colour."""
    blue, green, red = (int(c) for c in bgr)
    return f'#{red:02x}{green:02x}{blue:02x}'


def prediction_json(pred: dict,
                    color: Sequence[int],
                    masks: str = 'both') -> dict:
    """The JSON record of one prediction of :class:`RISInferencer`."""
    from mmris.apis import mask_to_rle
    mask = pred['mask']
    record = dict(
        sentence=pred['sentence'],
        score=round(float(pred['score']), 6),
        area=int(np.count_nonzero(mask)),
        color=hex_color(color))
    if masks in ('both', 'rle'):
        record['mask_rle'] = mask_to_rle(mask)
    if masks in ('both', 'png'):
        record['mask_png'] = data_url(png_bytes(mask * np.uint8(255)))
    return record


# ----------------------------------------------------------------------
# the model behind the endpoints
# ----------------------------------------------------------------------
class DemoService:
    """The inferencer, the examples and the request limits.

    One request runs the network at a time (a lock): the model is not
    meant to be shared by threads, and on a CPU parallel requests would
    only compete for the cores.

    Args:
        inferencer: A :class:`mmris.apis.RISInferencer` (or anything called
            as ``inferencer(image, sentences, alpha=, with_text=)``).
        examples (dict): ``{name: path}`` of example images.
        info (dict): Shown by ``GET /info`` (config, checkpoint, device).
        max_sentences (int): Most sentences per request.
        max_upload_bytes (int): Largest accepted image file.
    """

    def __init__(self,
                 inferencer,
                 examples: Optional[Dict[str, str]] = None,
                 info: Optional[dict] = None,
                 max_sentences: int = 8,
                 max_upload_bytes: int = 20 << 20) -> None:
        self.inferencer = inferencer
        self.examples = dict(examples or {})
        self.info = dict(info or {})
        self.max_sentences = max_sentences
        self.max_upload_bytes = max_upload_bytes
        self._lock = threading.Lock()

    def describe(self) -> dict:
        """What ``GET /info`` returns."""
        return dict(
            self.info,
            examples=sorted(self.examples),
            max_sentences=self.max_sentences,
            max_upload_mb=round(self.max_upload_bytes / (1 << 20), 2))

    def example_image(self, name: str) -> np.ndarray:
        """An example image by name (KeyError for unknown names)."""
        with open(self.examples[name], 'rb') as f:
            return decode_image(f.read())

    def check_sentences(self, sentences: List[str]) -> None:
        """ValueError for no or too many sentences."""
        if not sentences:
            raise ValueError('no sentence given: type at least one (one per '
                             'line)')
        if len(sentences) > self.max_sentences:
            raise ValueError(f'{len(sentences)} sentences; at most '
                             f'{self.max_sentences} per request')

    def predict(self,
                image: np.ndarray,
                sentences: List[str],
                alpha: float = 0.5,
                with_text: bool = True,
                masks: str = 'both') -> dict:
        """Run the inferencer and pack the JSON answer."""
        from mmris.visualization import ris_palette
        self.check_sentences(sentences)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f'alpha must be in [0, 1], got {alpha}')
        if masks not in MASK_FORMATS:
            raise ValueError(f'masks must be one of {MASK_FORMATS}, got '
                             f'{masks!r}')
        start = time.perf_counter()
        with self._lock:
            result = self.inferencer(
                image, sentences, alpha=alpha, with_text=with_text)
        preds = result['predictions']
        colors = ris_palette(len(preds))
        return dict(
            width=int(image.shape[1]),
            height=int(image.shape[0]),
            overlay=data_url(png_bytes(result['visualization'][0])),
            predictions=[
                prediction_json(p, c, masks) for p, c in zip(preds, colors)
            ],
            random_weights=bool(self.info.get('random_weights', False)),
            seconds=round(time.perf_counter() - start, 4))


# ----------------------------------------------------------------------
# the web application
# ----------------------------------------------------------------------
def read_page() -> str:
    """The HTML of the page."""
    with open(PAGE, encoding='utf-8') as f:
        return f.read()


def create_app(service: DemoService):
    """The FastAPI application serving the page and the endpoints."""
    from typing import List as FormList

    from fastapi import FastAPI, File, Form, HTTPException, UploadFile
    from fastapi.responses import FileResponse, HTMLResponse

    app = FastAPI(title='mmris web demo', docs_url='/docs', redoc_url=None)
    page = read_page()

    @app.get('/', response_class=HTMLResponse)
    def index() -> str:
        return page

    @app.get('/info')
    def info() -> dict:
        return service.describe()

    @app.get('/health')
    def health() -> dict:
        return dict(status='ok')

    @app.get('/examples/{name}')
    def example(name: str):
        if name not in service.examples:
            raise HTTPException(404, f'no example named {name!r}')
        return FileResponse(service.examples[name])

    @app.post('/predict')
    def predict(image: Optional[UploadFile] = File(None),
                example: Optional[str] = Form(None),
                texts: FormList[str] = Form(default=[]),
                with_text: bool = Form(True),
                alpha: float = Form(0.5),
                masks: str = Form('both')) -> dict:
        # a sync endpoint: FastAPI runs it in its thread pool
        bgr = _request_image(service, image, example)
        try:
            return service.predict(bgr, split_sentences(texts), alpha,
                                   with_text, masks)
        except ValueError as err:
            raise HTTPException(400, str(err)) from err

    def _request_image(service, upload, name) -> np.ndarray:
        """The uploaded image or the named example (HTTP errors else)."""
        if upload is not None and upload.filename:
            data = upload.file.read(service.max_upload_bytes + 1)
            if len(data) > service.max_upload_bytes:
                raise HTTPException(
                    413, 'image file larger than '
                    f'{service.max_upload_bytes >> 20} MiB')
            if not data:
                raise HTTPException(400, 'the uploaded image file is empty')
            try:
                return decode_image(data)
            except ValueError as err:
                raise HTTPException(400, str(err)) from err
        if name:
            if name not in service.examples:
                raise HTTPException(404, f'no example named {name!r}')
            return service.example_image(name)
        raise HTTPException(
            400, 'no image: send an "image" file or an '
            '"example" name')

    return app


def build_service(args: Namespace) -> DemoService:
    """Load the config and the model; gather the examples."""
    from mmengine.config import Config

    from mmris.apis import RISInferencer
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    inferencer = RISInferencer(cfg, weights=args.weights, device=args.device)
    info = dict(
        config=osp.basename(args.config),
        checkpoint=osp.basename(args.weights) if args.weights else None,
        device=str(next(inferencer.model.parameters()).device),
        random_weights=args.weights is None)
    return DemoService(
        inferencer,
        list_examples(args.examples, args.max_examples),
        info,
        max_sentences=args.max_sentences,
        max_upload_bytes=int(args.max_upload_mb * (1 << 20)))


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError as err:
        print(
            f'error: {err.name} is not installed; run `pip install -r '
            'requirements/demo.txt`',
            file=sys.stderr)
        return 2
    if args.weights is None:
        print('WARNING: no checkpoint given; the weights are random and the '
              'masks are meaningless (--allow-random-weights).')
    app = create_app(build_service(args))
    print(
        f'Open http://{args.host}:{args.port}/ in a browser '
        '(Ctrl+C stops the server).',
        flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level='info')
    return 0


if __name__ == '__main__':
    sys.exit(main())
