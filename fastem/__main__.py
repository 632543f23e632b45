"""Command line: ``python -m fastem demo`` and ``python -m fastem warmup``."""

import argparse


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastem")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="worked examples with timings")
    warm = sub.add_parser(
        "warmup",
        help="compile every kernel into Numba's on-disk cache (e.g. in a Dockerfile: "
             "RUN python -m fastem warmup)")
    warm.add_argument("--quiet", action="store_true", help="print nothing")
    warm.add_argument("--no-public-kernels", action="store_true",
                      help="skip the public functions of fastem.kernels")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from ._demo import main as demo

        demo()
    elif args.command == "warmup":
        from ._warmup import warmup

        seconds = warmup(kernels=not args.no_public_kernels, verbose=not args.quiet)
        if not args.quiet:
            print(f"fastem.warmup: everything ready in {seconds:.1f} s")


if __name__ == "__main__":
    main()
