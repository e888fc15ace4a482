"""Map the import names praho.core / praho.plugins / praho.admin onto the top-level folders.

pyproject.toml holds all metadata; this file only computes the package list, because
setuptools cannot express "every sub-package of folder X, renamed" declaratively.
"""

from setuptools import find_packages, setup

ROOTS = {"praho.core": "core", "praho.plugins": "plugins", "praho.admin": "admin",
         "praho.migrations": "migrations"}
DATA = ["*.toml", "*.json", "*.csv", "*.html", "*.css", "*.txt", "*.xml", "*.xsd", "*.xslt",
        "*.ttf", "*.woff2", "*.po", "*.mo", "*.j2", "*.svg", "*.js", "*.wsdl", "*.sql"]

packages: list[str] = []
package_dir: dict[str, str] = {}
for import_name, folder in ROOTS.items():
    packages.append(import_name)
    package_dir[import_name] = folder
    for sub in find_packages(folder, exclude=["*.tests", "*.tests.*", "tests"]):
        packages.append(f"{import_name}.{sub}")
        package_dir[f"{import_name}.{sub}"] = f"{folder}/{sub.replace('.', '/')}"

setup(
    packages=packages,
    package_dir=package_dir,
    package_data={name: ["**/" + pattern for pattern in DATA] + DATA for name in packages},
)
