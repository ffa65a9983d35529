"""Lay out the bundled real-annotation RefCOCO sample as a DATA_PATH.

    python tools/misc/make_refer_sample.py data/refer_sample

writes ``data/refer_sample/{train2014,refer/{refcoco,refcoco+,refcocog}}``:
real REFER refs and COCO polygons for four images, with blank JPEGs of the
recorded sizes (the COCO images themselves are not redistributed).
"""
import argparse

from mmris.testing import build_refer_sample


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('data_root', nargs='?', default='data/refer_sample')
    args = parser.parse_args()
    print(f'sample data root: {build_refer_sample(args.data_root)}')


if __name__ == '__main__':
    main()
