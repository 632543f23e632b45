"""Command line: ``python -m fastem demo``."""

import argparse


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastem")
    parser.add_argument("command", choices=["demo"], help="demo: worked examples with timings")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from ._demo import main as demo

        demo()


if __name__ == "__main__":
    main()
