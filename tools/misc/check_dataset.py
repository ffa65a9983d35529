"""Check a RefCOCO-family DATA_PATH before a long run.

    python tools/misc/check_dataset.py data/
    python tools/misc/check_dataset.py data/ --datasets refcocog \
        --verify-images

Reports every missing or malformed part with its exact path or id (missing
folders and annotation files, unreadable pickles/JSON, refs pointing to
absent annotations or images, unusable polygons, empty sentences, missing,
corrupt or wrongly-sized images) and prints refs/sentences/images per split.
Exit status 0 when no error was found, 1 otherwise.
"""
import argparse
import sys

from mmris.datasets.check import check_data_root


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Validate a RefCOCO/RefCOCO+/RefCOCOg(/refcocom) '
        'DATA_PATH.')
    parser.add_argument(
        'data_root', help='DATA_PATH (holds train2014/ '
        'and refer/)')
    parser.add_argument(
        '--datasets',
        nargs='+',
        help='datasets to check (default: refcoco refcoco+ refcocog, and '
        'refcocom if present); all split_by files of each are checked')
    parser.add_argument('--ann-root', default='refer/')
    parser.add_argument('--img-dir', default='train2014/')
    parser.add_argument('--text-key', default='sent', choices=['sent', 'raw'])
    parser.add_argument(
        '--no-images',
        action='store_true',
        help='skip the image checks (existence and size)')
    parser.add_argument(
        '--verify-images',
        action='store_true',
        help='decode every image completely (finds corrupt/truncated JPEGs)')
    parser.add_argument(
        '--decode-masks',
        action='store_true',
        help='rasterise every referred mask and flag empty ones')
    return parser.parse_args(argv)


def format_counts(counts) -> str:
    lines = [
        f'{"dataset":<20}{"split":<8}{"refs":>8}{"sentences":>11}'
        f'{"images":>8}'
    ]
    for label, splits in counts.items():
        for split, (refs, sents, imgs) in splits.items():
            lines.append(f'{label:<20}{split:<8}{refs:>8}{sents:>11}'
                         f'{imgs:>8}')
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    report = check_data_root(
        args.data_root,
        datasets=args.datasets,
        ann_root=args.ann_root,
        img_dir=args.img_dir,
        text_key=args.text_key,
        check_images=not args.no_images,
        verify_images=args.verify_images,
        decode_masks=args.decode_masks)
    if report.counts:
        print(format_counts(report.counts))
    for msg in report.warnings:
        print(f'WARNING: {msg}')
    for msg in report.errors:
        print(f'ERROR: {msg}')
    if report.ok:
        print(f'OK: {args.data_root} is complete '
              f'({len(report.counts)} annotation sets checked).')
        return 0
    print(f'FAILED: {len(report.errors)} problem(s) in {args.data_root}; '
          'see docs/dataset_prepare.md.')
    return 1


if __name__ == '__main__':
    sys.exit(main())
