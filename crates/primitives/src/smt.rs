//! placeholder: the SMT helper writes this module
