"""Romanian e-Factura: CIUS-RO UBL 2.1 XML, validation in the project, ANAF SPV submission.

The plugin module with the hook implementations is :mod:`praho.plugins.ro_efactura.plugin`.
"""
