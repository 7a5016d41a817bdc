"""LDAP / Active Directory directory connector."""

from connectors.ldap.connector import LdapConnector

__all__ = ["LdapConnector"]
