"""Helper package for examples/apps/app.py, shipped to executors as job_dependency.zip.

scripts/build_examples.sh zips this folder (the zip's root holds the package folder) so that
`spark-submit --py-files job_dependency.zip` makes `import job_dependency` work on the driver and
on the executors.
"""
