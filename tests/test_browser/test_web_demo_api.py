"""demo/web_demo.py without a browser: the command line and the HTTP API
(fastapi's TestClient; skipped when fastapi/httpx are not installed)."""
import base64
import re

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

SENTENCE = 'the red circle on the left'


def decode_data_url(url: str) -> np.ndarray:
    """The BGR (or gray) image of a ``data:image/png;base64,`` URL."""
    prefix = 'data:image/png;base64,'
    assert url.startswith(prefix)
    data = np.frombuffer(base64.b64decode(url[len(prefix):]), np.uint8)
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)


def png_upload(image: np.ndarray, name: str = 'photo.png') -> dict:
    return dict(
        image=(name, cv2.imencode('.png', image)[1].tobytes(), 'image/png'))


@pytest.fixture(scope='module')
def inferencer(tiny_model_files):
    from mmris.apis import RISInferencer
    config, ckpt = tiny_model_files
    return RISInferencer(config, weights=ckpt, device='cpu')


@pytest.fixture(scope='module')
def service(web_demo, inferencer, examples_dir):
    return web_demo.DemoService(
        inferencer,
        web_demo.list_examples(examples_dir),
        dict(
            config='tiny_ris.py',
            checkpoint='w.pth',
            device='cpu',
            random_weights=False),
        max_sentences=3,
        max_upload_bytes=200_000)


@pytest.fixture(scope='module')
def client(web_demo, service):
    pytest.importorskip('fastapi')
    pytest.importorskip('httpx')
    pytest.importorskip('python_multipart')
    from fastapi.testclient import TestClient
    return TestClient(web_demo.create_app(service))


def test_refuses_to_start_without_weights(web_demo, tiny_model_files, capsys):
    config, _ = tiny_model_files
    with pytest.raises(SystemExit) as exit_info:
        web_demo.parse_args([config])
    assert exit_info.value.code == 2
    message = capsys.readouterr().err
    assert 'no checkpoint given' in message and 'make demo' in message
    assert '--allow-random-weights' in message
    args = web_demo.parse_args([config, '--allow-random-weights'])
    assert args.weights is None and args.port == 7860
    assert args.host == '127.0.0.1'


def test_refuses_missing_files(web_demo, tiny_model_files, tmp_path):
    config, ckpt = tiny_model_files
    for argv in ([config, '--weights',
                  str(tmp_path / 'none.pth')],
                 [str(tmp_path / 'none.py'), '--weights', ckpt], [
                     config, '--weights', ckpt, '--examples',
                     str(tmp_path / 'none')
                 ]):
        with pytest.raises(SystemExit):
            web_demo.parse_args(argv)


def test_helpers(web_demo, examples_dir, draw_shapes):
    assert sorted(
        web_demo.list_examples(examples_dir)) == ['shapes.png', 'wide.jpg']
    assert list(web_demo.list_examples(examples_dir, 1)) == ['shapes.png']
    assert web_demo.split_sentences(['a\n\n  b  ', ' ',
                                     'c']) == ['a', 'b', 'c']
    assert web_demo.hex_color((255, 0, 16)) == '#1000ff'
    image = draw_shapes()
    png = cv2.imencode('.png', image)[1].tobytes()
    np.testing.assert_array_equal(web_demo.decode_image(png), image)
    with pytest.raises(ValueError, match='cannot decode'):
        web_demo.decode_image(b'not an image')


def test_page_is_self_contained(client):
    response = client.get('/')
    assert response.status_code == 200
    page = response.text
    assert '<form id="form"' in page and 'id="result"' in page
    # no CDN: every script, style and image comes from this page or server
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', page)
    assert '<link' not in page
    info = client.get('/info').json()
    assert info['examples'] == ['shapes.png', 'wide.jpg']
    assert info['random_weights'] is False
    assert client.get('/examples/shapes.png').status_code == 200
    assert client.get('/examples/notes.txt').status_code == 404
    assert client.get('/examples/..%2Fw.pth').status_code == 404


def test_predict_upload_matches_the_inferencer(client, inferencer,
                                               draw_shapes):
    image = draw_shapes()
    response = client.post(
        '/predict', files=png_upload(image), data=dict(texts=SENTENCE))
    assert response.status_code == 200, response.text
    payload = response.json()
    assert (payload['height'], payload['width']) == image.shape[:2]
    (pred, ) = payload['predictions']
    expected = inferencer(image, SENTENCE)
    want = expected['predictions'][0]
    assert pred['sentence'] == SENTENCE
    assert pred['score'] == pytest.approx(want['score'], abs=1e-5)
    rle = dict(pred['mask_rle'], counts=pred['mask_rle']['counts'].encode())
    np.testing.assert_array_equal(mask_utils.decode(rle), want['mask'])
    np.testing.assert_array_equal(
        decode_data_url(pred['mask_png']) > 0, want['mask'] > 0)
    assert pred['area'] == int(want['mask'].sum()) > 0
    overlay = decode_data_url(payload['overlay'])
    np.testing.assert_array_equal(overlay, expected['visualization'][0])
    changed = (overlay != image).any(axis=2)
    assert changed[want['mask'] > 0].mean() > 0.99


def test_predict_example_with_several_sentences(client):
    response = client.post(
        '/predict',
        data=dict(
            example='wide.jpg',
            texts=['the red circle\n\nthe blue square', 'the background'],
            with_text='false',
            masks='rle'))
    assert response.status_code == 200, response.text
    payload = response.json()
    assert (payload['height'], payload['width']) == (90, 200)
    preds = payload['predictions']
    assert [p['sentence'] for p in preds
            ] == ['the red circle', 'the blue square', 'the background']
    assert len({p['color'] for p in preds}) == 3
    assert all('mask_rle' in p and 'mask_png' not in p for p in preds)
    assert all(p['mask_rle']['size'] == [90, 200] for p in preds)


@pytest.mark.parametrize('files,data,status,words', [
    (None, dict(texts='a cat'), 400, 'no image'),
    ('image', dict(), 400, 'no sentence'),
    ('image', dict(texts='  \n '), 400, 'no sentence'),
    ('image', dict(texts='a\nb\nc\nd'), 400, 'at most 3'),
    ('image', dict(texts='a', alpha='2'), 400, 'alpha'),
    ('image', dict(texts='a', masks='jpeg'), 400, 'masks'),
    ('garbage', dict(texts='a'), 400, 'cannot decode'),
    ('huge', dict(texts='a'), 413, 'larger than'),
    (None, dict(texts='a', example='nope.png'), 404, 'no example'),
])
def test_predict_errors(client, draw_shapes, files, data, status, words):
    uploads = dict(
        image=png_upload(draw_shapes(40, 40)),
        garbage=dict(image=('x.png', b'\x89PNG broken', 'image/png')),
        huge=dict(image=('big.bin', bytes(300_000), 'image/png')))
    response = client.post('/predict', files=uploads.get(files), data=data)
    assert response.status_code == status
    assert words in response.json()['detail']
