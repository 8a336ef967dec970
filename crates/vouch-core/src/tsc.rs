//! The 61 AICPA Trust Services Criteria (2017, points of focus revised 2022): fixed
//! identifiers, with short topics in our own words.

/// One criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Criterion {
    /// The criterion's identifier (`CC6.1`, `A1.2`).
    pub id: &'static str,
    /// `security`, `availability`, `confidentiality`, `processing_integrity`, `privacy`.
    pub category: &'static str,
    /// A short description in our own words.
    pub topic: &'static str,
}

/// Every criterion, in the AICPA order.
pub const CRITERIA: &[Criterion] = &[
    Criterion {
        id: "CC1.1",
        category: "security",
        topic: "commitment to integrity and ethical values",
    },
    Criterion {
        id: "CC1.2",
        category: "security",
        topic: "board independence and oversight of internal control",
    },
    Criterion {
        id: "CC1.3",
        category: "security",
        topic: "structures, reporting lines, authorities and responsibilities",
    },
    Criterion {
        id: "CC1.4",
        category: "security",
        topic: "attracting, developing and keeping competent people",
    },
    Criterion {
        id: "CC1.5",
        category: "security",
        topic: "holding people accountable for their control duties",
    },
    Criterion {
        id: "CC2.1",
        category: "security",
        topic: "obtaining and using relevant, quality information",
    },
    Criterion {
        id: "CC2.2",
        category: "security",
        topic: "internal communication of objectives and responsibilities",
    },
    Criterion {
        id: "CC2.3",
        category: "security",
        topic: "communication with external parties",
    },
    Criterion {
        id: "CC3.1",
        category: "security",
        topic: "objectives specified clearly enough to assess risk",
    },
    Criterion {
        id: "CC3.2",
        category: "security",
        topic: "identifying and analysing risks",
    },
    Criterion {
        id: "CC3.3",
        category: "security",
        topic: "considering the potential for fraud",
    },
    Criterion {
        id: "CC3.4",
        category: "security",
        topic: "identifying changes that could impact internal control",
    },
    Criterion {
        id: "CC4.1",
        category: "security",
        topic: "ongoing and separate evaluations of controls",
    },
    Criterion {
        id: "CC4.2",
        category: "security",
        topic: "communicating control deficiencies in time",
    },
    Criterion {
        id: "CC5.1",
        category: "security",
        topic: "selecting control activities that mitigate risk",
    },
    Criterion {
        id: "CC5.2",
        category: "security",
        topic: "general controls over technology",
    },
    Criterion {
        id: "CC5.3",
        category: "security",
        topic: "policies and procedures that put controls in place",
    },
    Criterion {
        id: "CC6.1",
        category: "security",
        topic: "logical access security over information assets",
    },
    Criterion {
        id: "CC6.2",
        category: "security",
        topic: "registering and authorising users before access",
    },
    Criterion {
        id: "CC6.3",
        category: "security",
        topic: "role-based access: granting, changing and removing",
    },
    Criterion {
        id: "CC6.4",
        category: "security",
        topic: "physical access to facilities and assets",
    },
    Criterion {
        id: "CC6.5",
        category: "security",
        topic: "disposal of assets and data when no longer needed",
    },
    Criterion {
        id: "CC6.6",
        category: "security",
        topic: "protection against threats from outside the system boundary",
    },
    Criterion {
        id: "CC6.7",
        category: "security",
        topic: "restricting transmission and movement of information (e.g. encryption)",
    },
    Criterion {
        id: "CC6.8",
        category: "security",
        topic: "preventing and detecting malicious software",
    },
    Criterion {
        id: "CC7.1",
        category: "security",
        topic: "detecting configuration changes and vulnerabilities",
    },
    Criterion {
        id: "CC7.2",
        category: "security",
        topic: "monitoring components for anomalies",
    },
    Criterion {
        id: "CC7.3",
        category: "security",
        topic: "evaluating security events to decide if they are incidents",
    },
    Criterion {
        id: "CC7.4",
        category: "security",
        topic: "responding to incidents",
    },
    Criterion {
        id: "CC7.5",
        category: "security",
        topic: "recovering from incidents",
    },
    Criterion {
        id: "CC8.1",
        category: "security",
        topic: "change management: authorised, tested, approved, implemented",
    },
    Criterion {
        id: "CC9.1",
        category: "security",
        topic: "mitigating business-disruption risk",
    },
    Criterion {
        id: "CC9.2",
        category: "security",
        topic: "vendor and business-partner risk",
    },
    Criterion {
        id: "A1.1",
        category: "availability",
        topic: "capacity planning and monitoring",
    },
    Criterion {
        id: "A1.2",
        category: "availability",
        topic: "environmental protection, backups and recovery infrastructure",
    },
    Criterion {
        id: "A1.3",
        category: "availability",
        topic: "testing the recovery plan",
    },
    Criterion {
        id: "C1.1",
        category: "confidentiality",
        topic: "identifying and protecting confidential information",
    },
    Criterion {
        id: "C1.2",
        category: "confidentiality",
        topic: "disposing of confidential information",
    },
    Criterion {
        id: "PI1.1",
        category: "processing_integrity",
        topic: "definitions of the data processed and its quality",
    },
    Criterion {
        id: "PI1.2",
        category: "processing_integrity",
        topic: "input controls",
    },
    Criterion {
        id: "PI1.3",
        category: "processing_integrity",
        topic: "processing controls",
    },
    Criterion {
        id: "PI1.4",
        category: "processing_integrity",
        topic: "output controls",
    },
    Criterion {
        id: "PI1.5",
        category: "processing_integrity",
        topic: "storage of inputs, items in process and outputs",
    },
    Criterion {
        id: "P1.1",
        category: "privacy",
        topic: "notice of privacy practices",
    },
    Criterion {
        id: "P2.1",
        category: "privacy",
        topic: "choice and consent",
    },
    Criterion {
        id: "P3.1",
        category: "privacy",
        topic: "collection limited to stated objectives",
    },
    Criterion {
        id: "P3.2",
        category: "privacy",
        topic: "explicit consent for sensitive information",
    },
    Criterion {
        id: "P4.1",
        category: "privacy",
        topic: "use limited to stated purposes",
    },
    Criterion {
        id: "P4.2",
        category: "privacy",
        topic: "retention",
    },
    Criterion {
        id: "P4.3",
        category: "privacy",
        topic: "disposal",
    },
    Criterion {
        id: "P5.1",
        category: "privacy",
        topic: "data subjects' access to their information",
    },
    Criterion {
        id: "P5.2",
        category: "privacy",
        topic: "correction of personal information",
    },
    Criterion {
        id: "P6.1",
        category: "privacy",
        topic: "disclosure to third parties with consent",
    },
    Criterion {
        id: "P6.2",
        category: "privacy",
        topic: "record of authorised disclosures",
    },
    Criterion {
        id: "P6.3",
        category: "privacy",
        topic: "record of unauthorised disclosures",
    },
    Criterion {
        id: "P6.4",
        category: "privacy",
        topic: "commitments obtained from third parties",
    },
    Criterion {
        id: "P6.5",
        category: "privacy",
        topic: "third parties reporting unauthorised disclosures",
    },
    Criterion {
        id: "P6.6",
        category: "privacy",
        topic: "notifying affected parties of breaches",
    },
    Criterion {
        id: "P6.7",
        category: "privacy",
        topic: "accounting of disclosures to data subjects",
    },
    Criterion {
        id: "P7.1",
        category: "privacy",
        topic: "accuracy and completeness of personal information",
    },
    Criterion {
        id: "P8.1",
        category: "privacy",
        topic: "inquiries, complaints and disputes",
    },
];

/// Look a criterion up by id (`CC6.1`).
pub fn criterion(id: &str) -> Option<&'static Criterion> {
    CRITERIA.iter().find(|c| c.id == id)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sixty_one_unique() {
        let mut ids: Vec<_> = super::CRITERIA.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), 61);
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 61);
        assert_eq!(super::criterion("CC7.2").unwrap().category, "security");
        assert_eq!(
            super::criterion("PI1.5").unwrap().category,
            "processing_integrity"
        );
        assert!(super::criterion("CC10.1").is_none());
    }
}
